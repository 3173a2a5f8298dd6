"""Coverage models over a boolean coverage matrix (demand x candidates): LSCP, MCLP, backup, capacitated, phased."""
