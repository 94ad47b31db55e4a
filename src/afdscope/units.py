"""Unit constants. Inside the library everything is SI (s, bytes, bytes/s, FLOP, FLOP/s);
these convert at the edges (files, CLI flags, printed tables)."""

GB = 1e9  # bytes (decimal, as datasheets and the paper use)
TB = 1e12
GB_S = 1e9  # bytes/s
TB_S = 1e12
TFLOPS = 1e12  # FLOP/s
MS = 1e-3  # s
US = 1e-6
