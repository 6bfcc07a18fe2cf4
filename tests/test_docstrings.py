from __future__ import annotations

from toolvolley._docstrings import parse_docstring


def test_google_style() -> None:
    doc = parse_docstring(
        """Get the weather.

        More detail here.

        Args:
            city (str): The city name,
                e.g. Paris.
            days: How many days.

        Returns:
            The forecast.
        """
    )
    assert doc.description == "Get the weather.\n\nMore detail here."
    assert doc.params == {"city": "The city name, e.g. Paris.", "days": "How many days."}


def test_sphinx_style() -> None:
    doc = parse_docstring(
        """Get the weather.

        :param city: The city name.
        :param int days: How many
            days.
        :returns: The forecast.
        """
    )
    assert doc.description == "Get the weather."
    assert doc.params == {"city": "The city name.", "days": "How many days."}


def test_numpy_style() -> None:
    doc = parse_docstring(
        """Get the weather.

        Parameters
        ----------
        city : str
            The city name.
        days : int
            How many days.

        Returns
        -------
        dict
        """
    )
    assert doc.description == "Get the weather."
    assert doc.params == {"city": "The city name.", "days": "How many days."}


def test_plain_and_missing() -> None:
    assert parse_docstring(None).description == ""
    assert parse_docstring("Just text.").description == "Just text."
    assert parse_docstring("Just text.").params == {}
