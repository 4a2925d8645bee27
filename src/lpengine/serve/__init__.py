"""The server: parses the wire format, calls the Engine, writes the wire format back."""
