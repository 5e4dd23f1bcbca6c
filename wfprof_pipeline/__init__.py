"""wfprof: what each workflow step costs to run, and what to charge for it."""

__version__ = "0.1.0"
