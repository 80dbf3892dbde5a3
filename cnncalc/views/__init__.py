"""Views render a Report (or several); they never compute a figure themselves."""
