"""Investigations: the functions a playbook's notebooks call, one per notebook cell that does work.

Each takes a ``Case`` (evidence lands there) and returns a dataclass of frames and figures; the notebooks
only display what comes back (msticnb's notebooklet pattern, without globals injection).
"""
