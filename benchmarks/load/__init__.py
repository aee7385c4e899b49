"""Load test: many concurrent clients against a real ``logclass serve``; see ``__main__``."""
