"""Recording loaders: Moser-lab ``.mat``, NWB, Nayebi dict (``.npz``) and our netCDF.

The one entry point is :func:`load_recordings` (format auto-detection, see
:mod:`mecbench.loaders.auto`). The readers below it return :class:`Recording` objects in metres
and seconds, which :func:`bin_recordings` turns into NeuralData with
:func:`mecbench.binning.bin_session`.
"""

from mecbench.loaders.auto import FORMATS, detect_format, load_recordings
from mecbench.loaders.matfile import read_mat
from mecbench.loaders.moser import parse_moser_name, read_moser
from mecbench.loaders.nayebi import load_nayebi_npz, read_nayebi_npz, save_nayebi_npz
from mecbench.loaders.nwb import read_nwb
from mecbench.loaders.recording import Recording, bin_recordings, infer_arena_side

__all__ = [
    "FORMATS",
    "Recording",
    "bin_recordings",
    "detect_format",
    "infer_arena_side",
    "load_nayebi_npz",
    "load_recordings",
    "parse_moser_name",
    "read_mat",
    "read_moser",
    "read_nayebi_npz",
    "read_nwb",
    "save_nayebi_npz",
]
