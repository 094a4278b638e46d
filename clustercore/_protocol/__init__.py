"""The RESP wire format: command encoder and reply decoders (pure Python, hiredis). Sans-IO."""
