"""pix2pix studio: pix2pix generators, tasks, training and inference for an interactive Gradio app.

>>> import pix2pix_demo
>>> translate = pix2pix_demo.load("sketch")          # the shipped U-Net, offline
>>> picture = translate("drawing.png")               # a PIL.Image at the input's size
"""

__version__ = "0.1.0"

__all__ = ["load", "build_generator", "build_discriminator", "TASKS", "get_task"]


def __getattr__(name):  # import TensorFlow only when it is needed
    if name == "load":
        from .inference import load

        return load
    if name in ("build_generator", "build_discriminator"):
        from . import models

        return getattr(models, name)
    if name in ("TASKS", "get_task"):
        from . import tasks

        return getattr(tasks, name)
    raise AttributeError(name)
