"""The project's own error type: every bad input ends here, with a message that says what to fix."""


class AfdscopeError(ValueError):
    """Bad input (unknown name, malformed file, impossible parameter). The CLI prints it as one
    `error: ...` line and exits 2."""

    def __init__(self, message: str):
        # One line whatever the input held: control characters from a user's file are shown escaped.
        text = str(message)
        if any(c in text for c in "\n\r\t\x0b\x0c"):
            text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
            text = text.replace("\x0b", "\\x0b").replace("\x0c", "\\x0c")
        super().__init__(text)
