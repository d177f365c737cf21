"""Feedforward networks (textbook ch. 6–7): layers, models, losses and their parameters.

A network's names are exported here (``numdl.nn.MLP``, ``numdl.nn.Linear``, …); the
modules hold one topic each:

- :mod:`~numdl.nn.layers`: layers by family, each with a hand-written backward pass
  (linear, activations, normalisation: BatchNorm and LayerNorm, dropout, convolution,
  pooling, reshaping);
- :mod:`~numdl.nn.models`: :class:`Sequential`, the :class:`Classifier` base of the
  application's models, and the report's :class:`MLP` (eqs. 26–27);
- :mod:`~numdl.nn.cnn`: the convolutional :class:`CNN` of ``numdl train --model cnn`` (ch. 9);
- :mod:`~numdl.nn.losses`: cross-entropy from logits (eqs. 18–19), binary cross-entropy;
- :mod:`~numdl.nn.activations`: the activation functions and their derivatives;
- :mod:`~numdl.nn.init`: Glorot and He initialisers;
- :mod:`~numdl.nn.params`: the flat parameter buffer every model owns;
- :mod:`~numdl.nn.buffers`: write generations of reused buffers, so that no backward pass
  computes from an array overwritten after its forward;
- :mod:`~numdl.nn.regularization`: the L2 (eq. 20) and L1 (§7.1.2) penalties, weights versus
  biases.
"""

from numdl.nn.cnn import CNN
from numdl.nn.layers.activation import LeakyReLU, ReLU, Sigmoid, Tanh
from numdl.nn.layers.base import Layer
from numdl.nn.layers.conv import Conv2d
from numdl.nn.layers.dropout import Dropout
from numdl.nn.layers.linear import Linear
from numdl.nn.layers.normalization import BatchNorm, LayerNorm
from numdl.nn.layers.pooling import AvgPool2d, MaxPool2d
from numdl.nn.layers.reshape import Flatten, Unflatten
from numdl.nn.losses import SoftmaxCrossEntropy
from numdl.nn.models import MLP, Classifier, Sequential
from numdl.nn.params import Parameters, ParamSpec

__all__ = [
    "CNN",
    "MLP",
    "AvgPool2d",
    "BatchNorm",
    "Classifier",
    "Conv2d",
    "Dropout",
    "Flatten",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "ParamSpec",
    "Parameters",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "Unflatten",
]
