"""Policies the kit ships: ``investigator.json`` is the read-only policy the inventory collectors need
(see ``iamkit.aws.recorder.investigator_policy``). A package so the JSON is installed with it."""
