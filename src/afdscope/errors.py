"""The project's own error type: every bad input ends here, with a message that says what to fix."""


class AfdscopeError(ValueError):
    """Bad input (unknown name, malformed file, impossible parameter). The CLI prints it as one
    `error: ...` line and exits 2."""
