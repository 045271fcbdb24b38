"""Pure maths of the pack: imports only torch (and einops), testable without ComfyUI."""
