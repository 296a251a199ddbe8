"""Events → rows of the analytics tables. Pure: the caller loads the current rows of the
folded tables and writes what comes out; here only what each event means for each table."""
