# Turns a text file into a C header holding it as a NUL-terminated char array.
#   cmake -DIN=bootstrap.py -DOUT=bootstrap_py.h -DNAME=cd_bootstrap_py -P embed.cmake
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" body "${body}")
file(WRITE ${OUT} "/* generated from ${IN} by embed.cmake: do not edit */\nstatic const char ${NAME}[] = {\n${body}0x00};\n")
