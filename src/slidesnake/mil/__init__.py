"""Multiple-instance learning over bags of tile features: the model registry (models.py) and training (train.py)."""
