"""The paper's studies: cross-validation experiments and their outputs, pooled
pre-training and fine-tuning, model selection and comparison, the paper's
tables and figures."""
