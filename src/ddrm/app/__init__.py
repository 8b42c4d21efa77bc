"""The applications over the library: the first run (``ddrm demo``, :mod:`~ddrm.app.demo`) and the web page
(``ddrm serve``, :mod:`~ddrm.app.webapp`). They only turn their inputs into the pipeline's calls."""
