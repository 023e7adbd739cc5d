"""vadlib: the reproducible companion to *Towards Limited Label Learning for Visual Surveillance*
(N. Madan, PhD thesis, Aalborg University, 2023)."""

__version__ = "0.1.0"
