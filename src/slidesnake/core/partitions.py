"""The names of the parts a data set is split into: a cross-validation fold's, and a labelled patch set's."""

TRAIN, VALIDATION, TEST = PARTITIONS = ("train", "val", "test")
