"""Voice embeddings: one vector per recording, from acoustic measures (eGeMAPS, Praat) or
pretrained encoders (GE2E, SpeechBrain, transformers), loaded offline (docs/embeddings.md)."""
from .base import Encoder
from .encoders import EmbeddingSettings, EncoderSet, embed_recordings, encoder_for
from .store import load_embeddings

__all__ = ["Encoder", "EmbeddingSettings", "EncoderSet", "embed_recordings", "encoder_for", "load_embeddings"]
