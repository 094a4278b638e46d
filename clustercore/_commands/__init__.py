"""What commands are: the static table, key positions, idempotency, replies, command methods."""
