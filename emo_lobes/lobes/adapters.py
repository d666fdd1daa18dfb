"""Parallel residual adapters (EmoNet Section 5.2.1, Fig. 6): a shared 3x3 convolution plus a 1x1 one per domain.

Authors: emo-lobes contributors, after Rebuffi et al. (2018) and Gerczuk et al. (EmoNet, 2021).
"""
import torch
import torch.nn as nn


class DomainModules(nn.ModuleList):
    """A list holding one module per domain (corpus); its parameters are domain-specific, all others shared.

    :func:`domain_parameter_names` and :func:`freeze_shared_parameters` find domain-specific parameters by
    looking for this class, so any module kept per domain must live in one.

    Arguments
    ---------
    modules : iterable of torch.nn.Module
        The per-domain modules, domain 0 first.

    Example
    -------
    >>> heads = DomainModules([nn.Linear(4, 2), nn.Linear(4, 3)])
    >>> heads[1](torch.rand(5, 4)).shape
    torch.Size([5, 3])
    """


class ParallelAdapterConv2d(nn.Module):
    """A shared ``kernel_size`` convolution plus, per domain, a 1x1 convolution with the same stride and filter
    count; their outputs are summed (EmoNet Fig. 6). Neither has a bias: a batch norm always follows.

    Arguments
    ---------
    in_channels : int
        Input channels.
    out_channels : int
        Output channels (filters), the same for the shared and the adapter convolution.
    n_domains : int
        Number of domains (corpora), i.e. of 1x1 adapters.
    kernel_size : int
        Kernel size of the shared convolution (3 in the paper); padded to keep the size at stride 1.
    stride : int
        Stride of both convolutions.
    use_adapters : bool
        False builds the shared convolution only (a plain ResNet layer).

    Example
    -------
    >>> conv = ParallelAdapterConv2d(8, 16, n_domains=2, stride=2)
    >>> x = torch.rand(3, 8, 20, 64)
    >>> conv(x, domain=1).shape
    torch.Size([3, 16, 10, 32])
    >>> sum(p.numel() for p in conv.adapters[0].parameters())
    128
    """

    def __init__(self, in_channels, out_channels, n_domains=1, kernel_size=3, stride=1, use_adapters=True):
        super().__init__()
        self.shared = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=False
        )
        nn.init.kaiming_normal_(self.shared.weight, nonlinearity="relu")
        self.adapters = None
        if use_adapters:
            self.adapters = DomainModules(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False) for _ in range(n_domains)
            )
            for adapter in self.adapters:
                nn.init.kaiming_normal_(adapter.weight, nonlinearity="relu")

    def forward(self, x, domain=0):
        """Shared convolution plus the adapter of ``domain``.

        Arguments
        ---------
        x : torch.Tensor
            Shape ``[batch, in_channels, height, width]``.
        domain : int
            Which domain's adapter to add.

        Returns
        -------
        torch.Tensor
            Shape ``[batch, out_channels, ceil(height / stride), ceil(width / stride)]``.
        """
        out = self.shared(x)
        if self.adapters is not None:
            out = out + self.adapters[domain](x)
        return out


class DomainBatchNorm(nn.Module):
    """One batch norm per domain; the forward pass uses the given domain's statistics and affine parameters.

    Arguments
    ---------
    num_features : int
        Channels (2D) or features (1D).
    n_domains : int
        Number of domains.
    dims : int
        1 for ``[batch, features]`` input, 2 for ``[batch, channels, height, width]``.
    masked : bool
        Honour the ``mask`` given to :meth:`forward` (True, default); False ignores it (padding counted too).

    Example
    -------
    >>> norm = DomainBatchNorm(16, n_domains=3)
    >>> norm(torch.rand(4, 16, 5, 7), domain=2).shape
    torch.Size([4, 16, 5, 7])
    >>> int(norm.norms[2].num_batches_tracked), int(norm.norms[0].num_batches_tracked)
    (1, 0)
    """

    def __init__(self, num_features, n_domains=1, dims=2, masked=True):
        super().__init__()
        self.masked = masked
        norm_class = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}[dims]
        self.norms = DomainModules(norm_class(num_features) for _ in range(n_domains))

    def forward(self, x, domain=0, mask=None):
        """Normalise ``x`` with the batch norm of ``domain``.

        Arguments
        ---------
        x : torch.Tensor
            ``[batch, features]`` or ``[batch, channels, height, width]``.
        domain : int
            Which domain's batch norm to use.
        mask : torch.Tensor, optional
            ``[batch, 1, height, 1]`` (or broadcastable to ``x`` with one channel) float mask of the valid positions
            of a 2D input; in training the batch statistics (and so the running statistics) are taken over the
            valid positions only, so zero padding neither dilutes them nor makes them depend on how much of the
            batch is padding. None (or eval mode, or ``masked=False``): plain batch norm.

        Returns
        -------
        torch.Tensor
            Same shape as ``x``.
        """
        norm = self.norms[domain]
        if mask is None or not self.masked or not norm.training or x.dim() != 4:
            return norm(x)
        return masked_batch_norm_2d(norm, x, mask)


def masked_batch_norm_2d(norm, x, mask):
    """Training-mode batch norm of ``x`` ``[batch, channels, height, width]`` over the positions where ``mask`` is 1.

    The statistics (mean and biased variance for normalising, unbiased variance for the running estimate, as
    ``torch.nn.BatchNorm2d``) are those of the valid positions only; ``norm``'s running statistics, momentum
    (None: cumulative average) and affine parameters are used and updated as ``BatchNorm2d`` does. Without padding
    the result is that of ``norm(x)``.

    Arguments
    ---------
    norm : torch.nn.BatchNorm2d
        The batch norm whose parameters and buffers are used.
    x : torch.Tensor
        ``[batch, channels, height, width]``.
    mask : torch.Tensor
        Float mask broadcastable to ``[batch, 1, height, width]`` (1: valid).

    Returns
    -------
    torch.Tensor
        Same shape as ``x``.

    Example
    -------
    >>> norm = nn.BatchNorm2d(3)
    >>> x = torch.randn(2, 3, 5, 4)
    >>> torch.allclose(masked_batch_norm_2d(norm, x, torch.ones(2, 1, 5, 1)), nn.BatchNorm2d(3)(x), atol=1e-5)
    True
    """
    weight = mask.to(x.dtype).expand(x.shape[0], 1, x.shape[2], x.shape[3])
    count = weight.sum()
    if float(count) < 2:  # nothing to estimate a variance from: fall back to the plain batch statistics
        return norm(x)
    mean = (x * weight).sum(dim=(0, 2, 3)) / count
    centred = x - mean[None, :, None, None]
    var = (centred.square() * weight).sum(dim=(0, 2, 3)) / count
    if norm.track_running_stats:
        with torch.no_grad():
            norm.num_batches_tracked.add_(1)
            factor = norm.momentum if norm.momentum is not None else 1.0 / float(norm.num_batches_tracked)
            norm.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
            norm.running_var.mul_(1 - factor).add_(var.detach() * (count / (count - 1)), alpha=factor)
    out = centred * torch.rsqrt(var + norm.eps)[None, :, None, None]
    if norm.affine:
        out = out * norm.weight[None, :, None, None] + norm.bias[None, :, None, None]
    return out


def domain_parameter_names(model, domain=None):
    """Names of the parameters that live in a :class:`DomainModules` (of ``domain``, or of every domain).

    Arguments
    ---------
    model : torch.nn.Module
        Any model built from these lobes.
    domain : int, optional
        Restrict to this domain's index.

    Returns
    -------
    list of str
        Qualified parameter names, in ``model.named_parameters()`` order.

    Example
    -------
    >>> model = nn.ModuleDict({"conv": ParallelAdapterConv2d(1, 2, n_domains=2), "norm": DomainBatchNorm(2, 2)})
    >>> domain_parameter_names(model, domain=1)
    ['conv.adapters.1.weight', 'norm.norms.1.weight', 'norm.norms.1.bias']
    """
    prefixes = []
    for name, module in model.named_modules():
        if isinstance(module, DomainModules):
            indices = range(len(module)) if domain is None else [domain]
            prefixes.extend(f"{name}.{index}." if name else f"{index}." for index in indices)
    return [name for name, _ in model.named_parameters() if name.startswith(tuple(prefixes))]


def shared_parameter_names(model):
    """Names of the parameters shared by all domains (everything outside a :class:`DomainModules`).

    Arguments
    ---------
    model : torch.nn.Module
        Any model built from these lobes.

    Returns
    -------
    list of str
        Qualified parameter names.

    Example
    -------
    >>> model = nn.ModuleDict({"conv": ParallelAdapterConv2d(1, 2, n_domains=2), "norm": DomainBatchNorm(2, 2)})
    >>> shared_parameter_names(model)
    ['conv.shared.weight']
    """
    per_domain = set(domain_parameter_names(model))
    return [name for name, _ in model.named_parameters() if name not in per_domain]


def freeze_shared_parameters(model):
    """Stop gradients for every shared parameter; domain-specific ones (adapters, batch norms, heads) stay trainable.

    Arguments
    ---------
    model : torch.nn.Module
        Any model built from these lobes.

    Returns
    -------
    int
        The number of parameters (scalars) left trainable.

    Example
    -------
    >>> model = nn.ModuleDict({"conv": ParallelAdapterConv2d(1, 2, n_domains=2), "norm": DomainBatchNorm(2, 2)})
    >>> freeze_shared_parameters(model)
    12
    >>> model["conv"].shared.weight.requires_grad
    False
    """
    shared = set(shared_parameter_names(model))
    for name, param in model.named_parameters():
        param.requires_grad_(name not in shared)
    return sum(param.numel() for param in model.parameters() if param.requires_grad)


def parameter_counts(model):
    """Count a model's parameters: in total, shared by all domains, and specific to each domain.

    Arguments
    ---------
    model : torch.nn.Module
        Any model built from these lobes.

    Returns
    -------
    dict
        ``total``, ``shared`` and ``per_domain`` (a list, one count per domain index).

    Example
    -------
    >>> model = nn.ModuleDict({"conv": ParallelAdapterConv2d(1, 2, n_domains=2), "norm": DomainBatchNorm(2, 2)})
    >>> parameter_counts(model)
    {'total': 30, 'shared': 18, 'per_domain': [6, 6]}
    """
    sizes = dict((name, param.numel()) for name, param in model.named_parameters())
    n_domains = max((len(m) for m in model.modules() if isinstance(m, DomainModules)), default=0)
    per_domain = [sum(sizes[name] for name in domain_parameter_names(model, d)) for d in range(n_domains)]
    shared = sum(sizes[name] for name in shared_parameter_names(model))
    return {"total": sum(sizes.values()), "shared": shared, "per_domain": per_domain}


def shared_state_dict(model):
    """The shared parameters of ``model`` (what a transfer to a new corpus reuses), detached copies.

    Arguments
    ---------
    model : torch.nn.Module
        Any model built from these lobes.

    Returns
    -------
    dict
        Parameter name -> tensor.

    Example
    -------
    >>> model = nn.ModuleDict({"conv": ParallelAdapterConv2d(1, 2, n_domains=2), "norm": DomainBatchNorm(2, 2)})
    >>> list(shared_state_dict(model))
    ['conv.shared.weight']
    """
    params = dict(model.named_parameters())
    return {name: params[name].detach().clone() for name in shared_parameter_names(model)}


def load_shared_state_dict(model, state):
    """Copy shared parameters saved by :func:`shared_state_dict` into ``model``; domain modules are untouched.

    Arguments
    ---------
    model : torch.nn.Module
        A model with the same shared architecture.
    state : dict
        Parameter name -> tensor.

    Returns
    -------
    list of str
        Problems (missing names, unexpected names, shape mismatches); empty when everything was loaded.

    Example
    -------
    >>> source = nn.ModuleDict({"conv": ParallelAdapterConv2d(1, 2, n_domains=3)})
    >>> target = nn.ModuleDict({"conv": ParallelAdapterConv2d(1, 2, n_domains=1)})
    >>> load_shared_state_dict(target, shared_state_dict(source))
    []
    >>> torch.equal(target["conv"].shared.weight, source["conv"].shared.weight)
    True
    """
    params = dict(model.named_parameters())
    wanted = shared_parameter_names(model)
    problems = [f"missing {name}" for name in wanted if name not in state]
    problems += [f"unexpected {name}" for name in state if name not in wanted]
    for name in wanted:
        if name in state and state[name].shape != params[name].shape:
            problems.append(f"{name}: shape {tuple(state[name].shape)} != {tuple(params[name].shape)}")
    if not problems:
        with torch.no_grad():
            for name in wanted:
                params[name].copy_(state[name])
    return problems


def _domain_lists(model, exclude=()):
    # (qualified name, DomainModules) pairs, skipping names that start with any of ``exclude``.
    return [(name, module) for name, module in model.named_modules()
            if isinstance(module, DomainModules) and not name.startswith(tuple(exclude))]


def domain_state_dict(model, domain, exclude=()):
    """Parameters and buffers (batch-norm statistics) of one domain, keyed with ``*`` for the domain index.

    The ``*`` keys let :func:`load_domain_state_dict` put one domain's state into another index or model
    (e.g. a source corpus's adapters and batch norms as the start of full fine-tuning on a target corpus).

    Arguments
    ---------
    model : torch.nn.Module
        Any model built from these lobes.
    domain : int
        The domain index.
    exclude : tuple of str
        Skip the domain lists whose name starts with one of these (e.g. ``("heads",)``).

    Returns
    -------
    dict
        ``{"<list name>.*.<key>": tensor}`` (detached copies).

    Example
    -------
    >>> model = nn.ModuleDict({"conv": ParallelAdapterConv2d(1, 2, n_domains=2), "norm": DomainBatchNorm(2, 2)})
    >>> sorted(domain_state_dict(model, 1))[:3]
    ['conv.adapters.*.weight', 'norm.norms.*.bias', 'norm.norms.*.num_batches_tracked']
    """
    state = {}
    for name, module in _domain_lists(model, exclude):
        for key, value in module[domain].state_dict().items():
            state[f"{name}.*.{key}"] = value.detach().clone()
    return state


def load_domain_state_dict(model, state, domain, exclude=()):
    """Load a :func:`domain_state_dict` into domain ``domain`` of ``model``.

    Arguments
    ---------
    model : torch.nn.Module
        A model with the same domain-specific architecture.
    state : dict
        From :func:`domain_state_dict`.
    domain : int
        The target domain index.
    exclude : tuple of str
        Domain lists to leave untouched (e.g. ``("heads",)`` when the class counts differ).

    Example
    -------
    >>> source = nn.ModuleDict({"conv": ParallelAdapterConv2d(1, 2, n_domains=3)})
    >>> target = nn.ModuleDict({"conv": ParallelAdapterConv2d(1, 2, n_domains=1)})
    >>> load_domain_state_dict(target, domain_state_dict(source, 2), 0)
    >>> torch.equal(target["conv"].adapters[0].weight, source["conv"].adapters[2].weight)
    True
    """
    for name, module in _domain_lists(model, exclude):
        prefix = f"{name}.*."
        module[domain].load_state_dict({key[len(prefix):]: value for key, value in state.items()
                                        if key.startswith(prefix)})
