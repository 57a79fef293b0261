"""Proofs and their independent checkers: the trusted base of an audit.

Rule (enforced by the import tests): modules here and in :mod:`verishallow.exact` import the
standard library, numpy, the network class, the model loaders, the VNN-LIB parser and
:mod:`verishallow.product`; never a solver and never the search or enumeration code.
"""
