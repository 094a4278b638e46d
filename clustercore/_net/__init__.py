"""Sockets and one server connection: transport (TCP/TLS, polls) and the handshake-doing connection."""
