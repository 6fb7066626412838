"""The two solvers of robust PCA behind :func:`lrkit.rpca`: principal component pursuit
(:mod:`.pcp`) and alternating projections (:mod:`.altproj`)."""
