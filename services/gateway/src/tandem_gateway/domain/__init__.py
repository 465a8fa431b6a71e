"""Pure rules of the gateway: tokens, identity, origins and live frames. No I/O here."""
