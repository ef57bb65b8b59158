"""Local models the offline plane runs: a real tokenizer, a real embedding model, and the
documented stand-in foundation model that answers Bedrock calls offline.

Model code lives here, apart from the API emulation in :mod:`mllab.offline.bedrock` (as
the SageMaker built-in algorithms live apart from their handlers):

* :mod:`mllab.models.tokens` -- wordllama's Llama-2 BPE tokenizer (counts, encodes, truncates);
* :mod:`mllab.models.embeddings` -- wordllama's 256-d text embeddings (lifted to 512/1024);
* :mod:`mllab.models.catalog` -- profiles of real Bedrock model ids and inference profiles;
* :mod:`mllab.models.foundation` -- the extractive stand-in model behind Converse/InvokeModel.

Submodules load their weights lazily, on first use; importing this package is cheap.
"""
