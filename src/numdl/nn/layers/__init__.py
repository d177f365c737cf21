"""Layers by family, each with a hand-written backward pass (textbook ch. 6).

- :mod:`~numdl.nn.layers.base`: :class:`Layer`, the interface (parameters, forward, backward);
- :mod:`~numdl.nn.layers.linear`: :class:`Linear` (eqs. 13–17, ReLU fused);
- :mod:`~numdl.nn.layers.activation`: :class:`ReLU`, :class:`LeakyReLU`, :class:`Sigmoid`,
  :class:`Tanh`;
- :mod:`~numdl.nn.layers.normalization`: :class:`BatchNorm` (ReLU fused), :class:`LayerNorm`;
- :mod:`~numdl.nn.layers.dropout`: :class:`Dropout` (inverted, host-drawn masks).

User code imports them from :mod:`numdl.nn`.
"""
