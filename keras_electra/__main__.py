import sys

from keras_electra.cli.main import main

sys.exit(main())
