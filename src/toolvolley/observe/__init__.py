"""What a run looks like afterwards: timelines drawn as SVG, Chrome traces."""
