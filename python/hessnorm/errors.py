"""The package's exceptions.  Every message is one line that names the file,
module or field and says what is wrong; the command line prints it and
exits 1."""


class HessnormError(Exception):
    """Base class of the package's errors."""


class FormatError(HessnormError, ValueError):
    """A file or description the hessnorm format does not accept
    (docs/format.md)."""


class ExportError(HessnormError, ValueError):
    """A torch module the format cannot hold.  The message names the
    module's index in the nn.Sequential and what to change."""
