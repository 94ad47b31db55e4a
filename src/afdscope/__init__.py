"""afdscope: AFD vs large-scale EP for MoE inference, from first principles (arXiv 2602.09721 and beyond)."""

__version__ = "0.1.0"
