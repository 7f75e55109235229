"""hessnorm's files from Python: read and write the interchange format
(docs/format.md) with numpy, and export / load torch.nn.Sequential models.

    import hessnorm
    hessnorm.export(net, "out", x=xb, y=yb)          # torch: model.json, weights, sample
    net = hessnorm.load("out/model.json", "out/weights.safetensors")
    t = hessnorm.read_safetensors("out/sample.safetensors")   # {name: ndarray}
    hessnorm.write_safetensors("w.safetensors", {"0.weight": W})

numpy is needed; torch only by export, describe, build and load (imported
when they run).  docs/python.md describes the API and the command line
(python3 -m hessnorm)."""
from .errors import HessnormError, FormatError, ExportError
from .safetensors import (write_safetensors, read_safetensors, describe_safetensors,
                          encode_safetensors, decode_safetensors)
from .model import (parse_model, read_model, model_json, write_model, check_model,
                    weight_shapes, write_sample, read_sample)

from .torch_io import export, describe, build, load   # torch is imported when they run

__version__ = "0.1.0"
