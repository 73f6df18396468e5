"""The pathologist in the loop: the model's results as a QuPath project to review (layers of tissue, the user's
annotations and predicted tumor, with scores)."""
