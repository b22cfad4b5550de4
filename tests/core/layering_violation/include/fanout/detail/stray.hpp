// A fixture for the layering check: a shared top-level detail/.
