// COpenBLAS has no code of its own: the declarations in include/copenblas.h
// resolve against libopenblas at link time.
