"""Error types that the CLI turns into one-line messages instead of tracebacks."""


class VsslError(Exception):
    """A user-facing error: bad input, config or file. The message names what is at fault."""


class ConfigError(VsslError):
    """An unknown config key, a value of the wrong type, or a missing preset."""


class VideoReadError(VsslError):
    """A video (or frame directory) that cannot be opened or decoded; the message names the file."""


class OutputError(VsslError, OSError):
    """A file or folder that cannot be written (no permission, no space, a file where a folder should be); the
    message names it. Still an OSError, so handlers of OS errors keep working."""
