import java.util.*;
public class Hello { public static void main(String[] a) { var m = new HashMap<Integer,String>(); for (int i = 0; i < 200000; i++) m.put(i, "v" + i); System.out.println(m.size()); } }
