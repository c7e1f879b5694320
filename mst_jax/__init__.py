"""mst_jax: musical-audio style transfer with random-kernel networks, in JAX."""
