"""Tandem answering service: knowledge bases in Weaviate, retrieval, scoring and calibrated confidence."""
