"""Analytics rules that need no I/O: reporting periods, question normalisation, figures."""
