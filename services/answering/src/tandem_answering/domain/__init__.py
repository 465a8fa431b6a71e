"""Pure rules of the answering service: no I/O, no frameworks."""
