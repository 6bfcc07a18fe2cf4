"""The framework adapters, private: the public modules are ``toolvolley.langgraph``,
``toolvolley.langchain``, ``toolvolley.pydantic_ai`` and ``toolvolley.agents``."""
