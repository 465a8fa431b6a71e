"""Use cases of the widget API, written against ports so they run with fakes in unit tests."""
