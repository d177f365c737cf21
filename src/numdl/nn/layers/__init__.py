"""Layers by family, each with a hand-written backward pass (textbook ch. 6).

- :mod:`~numdl.nn.layers.base`: :class:`Layer`, the interface (parameters, forward, backward);
- :mod:`~numdl.nn.layers.linear`: :class:`Linear` (eqs. 13–17, ReLU fused);
- :mod:`~numdl.nn.layers.activation`: :class:`ReLU`, :class:`LeakyReLU`, :class:`Sigmoid`,
  :class:`Tanh`;
- :mod:`~numdl.nn.layers.normalization`: :class:`BatchNorm` (ReLU fused), :class:`LayerNorm`;
- :mod:`~numdl.nn.layers.dropout`: :class:`Dropout` (inverted, host-drawn masks);
- :mod:`~numdl.nn.layers.conv`: :class:`Conv2d` (ch. 9 eq. 9.6, im2col and one GEMM, ReLU
  fused);
- :mod:`~numdl.nn.layers.pooling`: :class:`MaxPool2d`, :class:`AvgPool2d` (§9.3);
- :mod:`~numdl.nn.layers.reshape`: :class:`Flatten`, :class:`Unflatten` (free views).

User code imports them from :mod:`numdl.nn`.
"""
