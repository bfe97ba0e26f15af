"""The Markdown report and its PNG figures."""
