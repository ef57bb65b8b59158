"""Data formats the SageMaker built-in algorithms read and write (introduced in lab 02).

* :mod:`mllab.formats.recordio`: ``application/x-recordio-protobuf``, the ``aialgs.data.Record``
  protobuf framed by MXNet RecordIO.
"""
