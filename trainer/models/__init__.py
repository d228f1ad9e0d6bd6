"""Networks only (no losses, no training): each builder returns a functional keras.Model."""
