"""Assessment rules, one module per family: privilege, trusts, credentials, exposure, posture."""
