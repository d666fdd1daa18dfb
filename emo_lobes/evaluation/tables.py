"""The one markdown table writer of the project: every recipe README and results summary uses it."""
import numbers

#: What an empty cell shows.
MISSING = "–"


def format_cell(value, float_digits=1):
    """One table cell: ``None`` -> en dash, floats with ``float_digits`` decimals, ints as they are.

    Pipes are escaped and line breaks flattened so a cell never breaks the table.

    Arguments
    ---------
    value : object
        The cell value.
    float_digits : int
        Decimals for non-integer numbers.

    Returns
    -------
    str
        The cell text.

    Example
    -------
    >>> [format_cell(v) for v in (None, 3, 2.0, 63.25, True, "a|b")]
    ['–', '3', '2.0', '63.2', 'True', 'a\\\\|b']
    """
    if value is None:
        return MISSING
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        text = str(value)
    elif isinstance(value, numbers.Integral):
        text = str(int(value))
    else:
        text = f"{float(value):.{float_digits}f}"
    return " ".join(text.split()).replace("|", "\\|")


def _is_number(value):
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def markdown_table(headers, rows, align=None, float_digits=1):
    """A GitHub markdown table with padded columns.

    Arguments
    ---------
    headers : list of str
        Column titles.
    rows : list of list
        Cells (see :func:`format_cell`); each row as long as ``headers``.
    align : list of str, optional
        ``'l'``, ``'r'`` or ``'c'`` per column. Default: right for columns whose filled cells are all numbers,
        left otherwise.
    float_digits : int
        Decimals for non-integer numbers.

    Returns
    -------
    str
        The table, lines joined by newlines, no trailing newline.

    Example
    -------
    >>> print(markdown_table(["Corpus", "Speakers", "UA (%)"], [["EmoDB", 10, 81.234], ["CaFE", 12, None]]))
    | Corpus | Speakers | UA (%) |
    | :----- | -------: | -----: |
    | EmoDB  |       10 |   81.2 |
    | CaFE   |       12 |      – |
    """
    width = len(headers)
    for index, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"row {index} has {len(row)} cells for {width} headers")
    if align is None:
        align = []
        for column in range(width):
            filled = [row[column] for row in rows if row[column] is not None]
            align.append("r" if filled and all(_is_number(v) for v in filled) else "l")
    if len(align) != width or any(a not in ("l", "r", "c") for a in align):
        raise ValueError(f"align must give one of 'l', 'r', 'c' for each of the {width} columns")
    cells = [[format_cell(h) for h in headers]] + [[format_cell(v, float_digits) for v in row] for row in rows]
    widths = [max(3, *(len(line[column]) for line in cells)) for column in range(width)]

    def pad(text, column):
        if align[column] == "r":
            return text.rjust(widths[column])
        if align[column] == "c":
            return text.center(widths[column])
        return text.ljust(widths[column])

    rule = {"l": lambda n: ":" + "-" * (n - 1), "r": lambda n: "-" * (n - 1) + ":",
            "c": lambda n: ":" + "-" * (n - 2) + ":"}
    lines = ["| " + " | ".join(pad(text, c) for c, text in enumerate(cells[0])) + " |",
             "| " + " | ".join(rule[align[c]](widths[c]) for c in range(width)) + " |"]
    lines += ["| " + " | ".join(pad(text, c) for c, text in enumerate(line)) + " |" for line in cells[1:]]
    return "\n".join(lines)


def mean_std(mean, std, digits=1, percent=True):
    """``'63.2 ± 1.4'`` from a mean and a standard deviation (fractions scaled to percent by default).

    Arguments
    ---------
    mean : float or None
        The mean (``None`` gives an en dash).
    std : float or None
        The standard deviation (``None``: the mean alone).
    digits : int
        Decimals.
    percent : bool
        Multiply both by 100.

    Returns
    -------
    str
        The formatted pair.

    Example
    -------
    >>> mean_std(0.63214, 0.0138), mean_std(63.2, None, percent=False), mean_std(None, 0.1)
    ('63.2 ± 1.4', '63.2', '–')
    """
    if mean is None:
        return MISSING
    scale = 100.0 if percent else 1.0
    text = f"{scale * float(mean):.{digits}f}"
    return text if std is None else f"{text} ± {scale * float(std):.{digits}f}"


def _metric_cell(value, digits, percent):
    # A results cell: {"mean", "std"} dicts and numbers become text; text stays as written.
    if isinstance(value, dict):
        return mean_std(value.get("mean"), value.get("std"), digits, percent)
    if _is_number(value):
        return mean_std(value, None, digits, percent)
    return None if value is None else str(value)


def results_table(rows, columns, paper=None, label_key="name", label_header="Setting", digits=1, percent=True):
    """Our results, and the paper's beside them in ``<header> (paper)`` columns.

    Arguments
    ---------
    rows : list of dict
        One per setting: ``row[label_key]`` names it; metric values are fractions, numbers or
        ``{"mean", "std"}`` dicts (as :func:`emo_lobes.evaluation.metrics.aggregate_folds` returns), scaled to percent
        when ``percent``.
    columns : list of str or (str, str)
        Metric keys, or ``(key, header)`` pairs.
    paper : dict, optional
        ``{setting name: {key: value}}`` as printed in the paper (already in percent: never rescaled); a
        column gets a paper column beside it when any setting has a paper value for it.
    label_key, label_header : str
        The row-name key and its column title.
    digits : int
        Decimals.
    percent : bool
        Scale our fractions to percent.

    Returns
    -------
    str
        A markdown table (see :func:`markdown_table`).

    Example
    -------
    >>> ours = [{"name": "EmoDB LOSO", "ua": {"mean": 0.8123, "std": 0.0411}, "wa": 0.83},
    ...         {"name": "CaFE fixed", "ua": 0.5, "wa": None}]
    >>> print(results_table(ours, [("ua", "UA (%)"), ("wa", "WA (%)")], paper={"EmoDB LOSO": {"ua": 84.1}}))
    | Setting    |     UA (%) | UA (%) (paper) | WA (%) |
    | :--------- | ---------: | -------------: | -----: |
    | EmoDB LOSO | 81.2 ± 4.1 |           84.1 |   83.0 |
    | CaFE fixed |       50.0 |              – |      – |
    """
    paper = paper or {}
    pairs = [(c, c) if isinstance(c, str) else tuple(c) for c in columns]
    headers = [label_header]
    table_rows = [[row.get(label_key)] for row in rows]
    for key, header in pairs:
        headers.append(header)
        for table_row, row in zip(table_rows, rows):
            table_row.append(_metric_cell(row.get(key), digits, percent))
        if any(key in values for values in paper.values()):
            headers.append(f"{header} (paper)")
            for table_row, row in zip(table_rows, rows):
                table_row.append(_metric_cell(paper.get(row.get(label_key), {}).get(key), digits, percent=False))
    return markdown_table(headers, table_rows, align=["l"] + ["r"] * (len(headers) - 1))
